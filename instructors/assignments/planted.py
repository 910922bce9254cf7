"""Planted submissions, graded by CI (tests/test_assignments.py): for each assignment, the
reference solution with some tasks answered wrongly or with coursekit's own implementation,
and what each task must then score.

Each plant replaces the answer cell that defines a name with other code, and marks that
task's check as passed in the saved outputs (a hand-edited PASS, which must count for
nothing: the grader runs the notebook again). The wrong answers still run, so that a later
task that uses them (a training loop) is graded on its own merits.
"""

from __future__ import annotations

PASSED = "{question} results: All test cases passed!"

# assignment -> {defined name: replacement source}
PLANTS: dict[str, dict[str, str]] = {
    "01_predicting_ratings": {
        "class BiasedMF": '''class BiasedMF(keras.Model):
    def __init__(self, n_users, n_items, dim=32, l2=1e-4, global_mean=3.5, **kwargs):
        super().__init__(**kwargs)
        penalty = keras.regularizers.L2(l2) if l2 else None
        self.global_mean = float(global_mean)
        self.user_factors = keras.layers.Embedding(n_users, dim,
                                                   embeddings_regularizer=penalty)
        self.item_factors = keras.layers.Embedding(n_items, dim,
                                                   embeddings_regularizer=penalty)
        self.user_bias = keras.layers.Embedding(n_users, 1, embeddings_initializer="zeros")
        self.item_bias = keras.layers.Embedding(n_items, 1, embeddings_initializer="zeros")

    def call(self, pairs):  # wrong: the film's bias is left out
        users, items = pairs[:, 0], pairs[:, 1]
        dot = keras.ops.sum(self.user_factors(users) * self.item_factors(items), axis=-1)
        return self.global_mean + self.user_bias(users)[:, 0] + dot''',
    },
    "02_autoencoders": {
        "def masked_mse": '''def masked_mse(y_true, y_pred):  # wrong: missing entries count as zeros
    return keras.ops.mean(keras.ops.square(y_true - y_pred))''',
    },
    "03_side_information": {
        "class FactorizationMachine": '''class FactorizationMachine(keras.Model):
    def __init__(self, vocabulary, k=16, l2=1e-5, global_mean=3.5, **kwargs):
        super().__init__(**kwargs)
        self.weights_of_values = keras.layers.Embedding(vocabulary, 1,
                                                        embeddings_initializer="zeros")
        self.vectors_of_values = keras.layers.Embedding(
            vocabulary, k, embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01),
            embeddings_regularizer=keras.regularizers.L2(l2) if l2 else None)

    def call(self, rows):  # wrong: the global mean is left out
        linear = keras.ops.sum(self.weights_of_values(rows)[..., 0], axis=1)
        return linear + fm_interaction(self.vectors_of_values(rows))''',
    },
    "04_top_n": {
        "def attention_mask": '''def attention_mask(sequences):  # wrong: the padding is attended
    sequences = np.asarray(sequences)
    length = sequences.shape[1]
    causal = np.tril(np.ones((length, length), dtype=bool))
    return np.broadcast_to(causal, (len(sequences), length, length))''',
    },
    "05_retrieval": {
        "def in_batch_softmax_loss": '''def in_batch_softmax_loss(user_vectors, film_vectors, log_q):
    # coursekit's implementation, imported by name: right values, no points
    from coursekit.models.retrieval.two_tower import in_batch_softmax_loss as course_loss

    n = keras.ops.shape(user_vectors)[0]
    total = course_loss(user_vectors, film_vectors, keras.ops.arange(n), keras.ops.exp(log_q))
    return total / keras.ops.cast(n, total.dtype)''',
        "def recall_of_index": '''import coursekit.models.retrieval.serving as serving


def recall_of_index(exact, approximate):  # coursekit's implementation, through its module
    return float(serving.recall_at_k(np.asarray(approximate), np.asarray(exact)))''',
    },
    "06_beyond_accuracy": {
        "def choose_beta": '''def choose_beta(results):  # wrong: the verdicts are ignored
    return max(sorted(results), key=lambda beta: results[beta][0])


validation_results = {
    beta: (intervals.aggregate(units, "catalog coverage"),
           intervals.compare(units, validation_units[0.0], "HR@10").verdict if beta else "level")
    for beta, units in validation_units.items()}
chosen_beta = choose_beta(validation_results)
print(validation_results, "chosen:", chosen_beta)''',
    },
}

# assignment -> the tasks each plant must zero (the others keep their full points)
ZEROED: dict[str, set[str]] = {
    "01_predicting_ratings": {"q1"},
    "02_autoencoders": {"q1"},
    "03_side_information": {"q2"},
    "04_top_n": {"q2"},
    "05_retrieval": {"q1", "q2"},
    "06_beyond_accuracy": {"q2"},
}


def planted(reference: dict, name: str) -> dict:
    """The reference notebook (as JSON) with ``name``'s plants, and every check's saved output
    edited by hand to say its tests passed."""
    import copy

    nb = copy.deepcopy(reference)
    remaining = dict(PLANTS[name])
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        for start, replacement in list(remaining.items()):
            if cell["cell_type"] == "code" and source.lstrip().startswith(start):
                cell["source"] = replacement
                del remaining[start]
        if cell["cell_type"] == "code" and source.startswith("grader.check("):
            question = source.split('"')[1]
            cell["outputs"] = [{"name": "stdout", "output_type": "stream",
                                "text": PASSED.format(question=question) + "\n"}]
    if remaining:
        raise ValueError(f"{name}: no answer cell defines {sorted(remaining)}")
    return nb
