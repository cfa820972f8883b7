from noisylab.cli import main

main()
