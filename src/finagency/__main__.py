from finagency.cli import main

main()
