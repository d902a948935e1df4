from sanzheng_enrollment.app import main

main()
