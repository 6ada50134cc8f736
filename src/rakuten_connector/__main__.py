from rakuten_connector.cli import main

main()
