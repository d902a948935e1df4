from sanzheng_certificates.app import main

main()
