from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 3
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_causal_without_padding(attention_mask, np):
    got = np.asarray(attention_mask(np.array([[5, 6, 7]])))
    expected = np.array([[[True, False, False], [True, True, False], [True, True, True]]])
    assert got.shape == (1, 3, 3), f'for one sequence of 3 the mask has shape {got.shape}; expected (1, 3, 3)'
    assert (got == expected).all(), f'for a sequence without padding the mask is\n{got[0].astype(int)}\nexpected the lower triangle\n{expected[0].astype(int)}'

