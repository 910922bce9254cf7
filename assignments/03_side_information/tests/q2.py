from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 3
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_known_weights(FactorizationMachine, np):
    model = FactorizationMachine(vocabulary=4, k=2, l2=0.0, global_mean=3.0)
    rows = np.array([[0, 2], [1, 3]], dtype='int32')
    model(rows)
    model.weights_of_values.embeddings.assign(np.array([[0.5], [0.0], [-0.25], [1.0]], 'float32'))
    model.vectors_of_values.embeddings.assign(np.array([[1.0, 0.0], [0.0, 2.0], [2.0, 1.0], [1.0, 1.0]], 'float32'))
    got = np.asarray(model(rows))
    expected = np.array([3.0 + 0.5 - 0.25 + 2.0, 3.0 + 0.0 + 1.0 + 2.0])
    assert np.allclose(got, expected, atol=1e-05), f"with known weights the model gave {np.round(got, 4)}; expected {expected} (global mean + the values' weights + the interaction of their vectors)"

