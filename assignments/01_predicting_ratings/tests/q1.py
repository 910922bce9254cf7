from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 4
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_output_shape(BiasedMF, np):
    model = BiasedMF(n_users=5, n_items=7, dim=3, l2=0.0, global_mean=3.0)
    out = np.asarray(model(np.array([[0, 1], [4, 6]], dtype='int32')))
    assert out.shape == (2,), f'for a batch of 2 pairs the model returned shape {out.shape}; expected (2,): one predicted rating per pair'

@test_case(points=None, hidden=False)
def test_formula_on_known_weights(BiasedMF, np):

    def predictions():
        model = BiasedMF(n_users=3, n_items=4, dim=2, l2=0.0, global_mean=3.5)
        pairs = np.array([[0, 0], [1, 3], [2, 1], [2, 2]], dtype='int32')
        model(pairs)
        p = np.array([[1.0, 0.0], [0.5, -1.0], [0.0, 2.0]], dtype='float32')
        q = np.array([[2.0, 1.0], [-1.0, 0.5], [0.0, 0.0], [1.0, 1.0]], dtype='float32')
        model.user_factors.embeddings.assign(p)
        model.item_factors.embeddings.assign(q)
        model.user_bias.embeddings.assign(np.array([[0.1], [-0.2], [0.3]], dtype='float32'))
        model.item_bias.embeddings.assign(np.array([[0.0], [0.4], [-0.1], [0.2]], dtype='float32'))
        return np.asarray(model(pairs))
    got = predictions()
    expected = np.array([3.5 + 0.1 + 0.0 + 2.0, 3.5 - 0.2 + 0.2 - 0.5, 3.5 + 0.3 + 0.4 + 1.0, 3.5 + 0.3 - 0.1 + 0.0])
    assert np.allclose(got, expected, atol=1e-05), f'with known weights the model predicted {np.round(got, 4)}; expected {np.round(expected, 4)} (global mean + user bias + film bias + dot product)'

