from matml.cli import main

main()
