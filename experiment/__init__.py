"""The experiment config: the contract between the dashboard, the CLI and the workers.

Nothing here imports Keras or TensorFlow: the dashboard validates, expands and estimates
configs with it, and workers parse what the database hands them.
"""
