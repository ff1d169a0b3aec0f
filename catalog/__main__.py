from catalog.console import run

run()
