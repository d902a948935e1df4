from sanzheng_labor_education.app import main

main()
