"""``python -m ota_deploy``: the same as the ``ota-deploy`` console script."""

from ota_deploy.cli.app import main

if __name__ == "__main__":
    main()
