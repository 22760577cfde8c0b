from skiff_cli.app import main

main()
