"""Two-tower retrieval and serving: TensorFlow Recommenders (:mod:`.tfrs`, Keras 2, loaded
only when imported), keras-rs in Keras 3 (:mod:`.two_tower`), and nearest-neighbour indexes
(:mod:`.serving`)."""
