"""The training machinery every trained model shares: early stopping on a validation part
then a refit (:mod:`.refit`), the Keras model base with its training pipeline, callbacks and
weight I/O (:mod:`.keras_base`), and the row-wise trainers of long rows (:mod:`.rowwise`,
:mod:`.sparse_trainer`)."""
