from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 4
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_two_by_two(in_batch_softmax_loss, np):
    users = np.array([[1.0, 0.0], [0.0, 1.0]], 'float32')
    films = np.array([[2.0, 0.0], [0.0, 1.0]], 'float32')
    got = float(np.asarray(in_batch_softmax_loss(users, films, np.zeros(2, 'float32'))))
    logits = users @ films.T
    expected = np.mean(np.log(np.exp(logits).sum(axis=1)) - np.diag(logits))
    assert abs(got - expected) < 1e-05, f'without correction the loss is {got:.5f}; expected {expected:.5f}, the mean cross-entropy of each row of users @ films.T with its own column as the answer'

