from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_one_rmse_per_field_set(validation_rmse, best_fields, FIELD_SETS):
    assert isinstance(validation_rmse, dict) and sorted(validation_rmse) == sorted(FIELD_SETS), f'validation_rmse should be a dict with one entry per name of FIELD_SETS {sorted(FIELD_SETS)}; it is {validation_rmse!r}'
    lowest = min(validation_rmse, key=validation_rmse.get)
    assert best_fields == lowest, f"best_fields is {best_fields!r}, but the lowest validation RMSE is {lowest!r}'s"

