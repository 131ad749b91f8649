"""`python -m dynamiccity` runs the command line."""

from dynamiccity.cli.main import main

main()
