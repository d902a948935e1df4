from sanzheng_gateway.app import main

main()
