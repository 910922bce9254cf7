from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_one_rmse_per_size(validation_rmse, best_hidden, HIDDEN_GRID):
    assert isinstance(validation_rmse, dict) and sorted(validation_rmse) == sorted(HIDDEN_GRID), f'validation_rmse should be a dict with one entry per size of HIDDEN_GRID {HIDDEN_GRID}; it is {validation_rmse!r}'
    lowest = min(validation_rmse, key=validation_rmse.get)
    assert best_hidden == lowest, f'best_hidden is {best_hidden}, but the lowest validation RMSE is at {lowest}'

