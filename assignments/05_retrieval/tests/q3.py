from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_both_runs(validation_accuracy, use_correction):
    assert isinstance(validation_accuracy, dict) and set(validation_accuracy) == {True, False}, f'validation_accuracy should have the keys True and False; it is {validation_accuracy!r}'
    assert use_correction == max(validation_accuracy, key=validation_accuracy.get), f"use_correction is {use_correction}, but the higher validation accuracy is {max(validation_accuracy, key=validation_accuracy.get)}'s"

