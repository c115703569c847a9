"""`python -m trainer import`: runs from other tools' logs (TensorBoard event files, Keras
CSVLogger files) become read-only runs of source "import" that compare like any other.

`sources` finds the runs under a path and hashes their files, `tensorboard` and `csv_logger`
read one run each into a `RunLog`, and `command` writes them in one transaction.
"""
