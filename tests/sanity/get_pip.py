"""Offline stand-in for the get-pip.py that ansible-test downloads from a host outside the package
registries. ansible-test runs this file (from $HOME/.ansible/test/cache/get_pip_<version>.py,
where tests/run-sanity.sh puts it, with a scrubbed environment) with pip's options and the
packages to install. It installs them with the pip wheel from PyPI that the script put beside it."""

import glob
import os
import sys

sys.path.insert(0, sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "pip-*.whl")))[-1])

from pip._internal.cli.main import main

# get-pip.py's own flags, which pip's install command does not know.
ARGUMENTS = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--upgrade", "--force-reinstall", *ARGUMENTS]))
