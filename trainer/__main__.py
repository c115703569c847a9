import sys

from tf_logging import quiet_tensorflow

quiet_tensorflow()  # before any command imports TensorFlow

from trainer.cli import main  # noqa: E402

sys.exit(main())
