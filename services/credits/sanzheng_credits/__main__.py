from sanzheng_credits.app import main

main()
