from actlab.tui.cli import main

main()
