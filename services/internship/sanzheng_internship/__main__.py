from sanzheng_internship.app import main

main()
