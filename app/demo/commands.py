from app.cli import HeadwayGroup

demo_cli = HeadwayGroup("demo", help="Demo data.")
