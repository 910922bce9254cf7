from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_recall(recall_of_index, np):
    got = recall_of_index(np.array([[1, 2, 3, 4], [5, 6, 7, 8]]), np.array([[4, 3, 9, 1], [0, 9, 5, 10]]))
    assert abs(got - 0.5) < 1e-09, f'recall_of_index gave {got}; expected (3/4 + 1/4) / 2 = 0.5: the order within a list does not matter'

