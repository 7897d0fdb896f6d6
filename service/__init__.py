"""The inspector service: a FastAPI API and Vietnamese web pages over a persistent review queue.

    from service.app import create_app
    app = create_app()            # settings from the environment (SCREENING_*)

Importing this package reads no file and opens no database; ``create_app`` builds the engine and
the app's lifespan runs the migrations and loads the screener once.
"""
