from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 3
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_reconstructs_rows(ItemAutoRec, np):
    model = ItemAutoRec(n_users=4, hidden=2, l2=0.0)
    out = np.asarray(model(np.zeros((3, 4), 'float32')))
    assert out.shape == (3, 4), f'for 3 rows of 4 users the model returned shape {out.shape}; expected (3, 4)'

