from tdxpolicy.cli import main

main()
