from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 4
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_two_fields_is_a_dot_product(fm_interaction, np):
    vectors = np.array([[[1.0, 2.0], [3.0, -1.0]]], dtype='float32')
    got = np.asarray(fm_interaction(vectors))
    assert got.shape == (1,), f'for a batch of 1 the result has shape {got.shape}; expected (1,)'
    assert abs(float(got[0]) - 1.0) < 1e-05, f'with two fields the interaction is their dot product, 1*3 + 2*(-1) = 1; got {got[0]}'

