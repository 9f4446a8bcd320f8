from actlab.tui.cli import main

if __name__ == "__main__":  # the engine's child process imports this module too
    main()
