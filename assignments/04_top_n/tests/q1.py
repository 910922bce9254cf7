from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_value(bpr_loss, np):
    got = float(np.asarray(bpr_loss(np.array([2.0, 0.0], 'float32'), np.array([0.0, 0.0], 'float32'))))
    expected = (np.log1p(np.exp(-2.0)) + np.log(2.0)) / 2
    assert abs(got - expected) < 1e-05, f'bpr_loss([2, 0], [0, 0]) gave {got:.5f}; expected {expected:.5f}, the mean of -log sigmoid(positive - negative)'

