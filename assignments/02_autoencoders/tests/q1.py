from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_only_observed_entries_count(masked_mse, np):
    y_true = np.array([[4.0, 0.0, 2.0], [0.0, 0.0, 5.0]], dtype='float32')
    y_pred = np.array([[3.0, 9.0, 2.5], [7.0, 1.0, 5.0]], dtype='float32')
    got = float(np.asarray(masked_mse(y_true, y_pred)))
    expected = (1.0 + 0.25 + 0.0) / 3
    assert abs(got - expected) < 1e-05, f'masked_mse gave {got:.5f} on a batch with 3 observed ratings; expected {expected:.5f}: the squared errors of the observed entries (non-zero y_true) divided by their number'

@test_case(points=None, hidden=False)
def test_empty_batch_is_zero(masked_mse, np):
    got = float(np.asarray(masked_mse(np.zeros((2, 3), 'float32'), np.ones((2, 3), 'float32'))))
    assert got == 0.0, f'with no observed rating masked_mse gave {got}; expected 0 (never NaN)'

