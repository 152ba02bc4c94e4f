"""The .ts (UEA/UCR archive) reader: content, and errors that name the file and line."""

import numpy as np
import pytest

from streamfuse.data import DataError, read_ts

HEADER = """# A comment
@problemName Toy
@TIMESTAMPS false
@missing true
@univariate false
@dimensions 2
@equalLength true
@seriesLength 3
@classLabel true up down
@data
"""


def write(tmp_path, body, header=HEADER):
    path = tmp_path / "toy.ts"
    path.write_text(header + body)
    return path


def test_reads_dimensions_values_labels_and_missing(tmp_path):
    path = write(tmp_path, "1,2,3:4,5,6:up\n\n-1.5e0,?,0:7,8,9:down\n")
    x, labels = read_ts(path)
    assert x.dtype == np.float32 and x.shape == (2, 2, 3)
    assert x[0].tolist() == [[1, 2, 3], [4, 5, 6]]
    assert x[1, 0, 0] == -1.5 and np.isnan(x[1, 0, 1])
    assert labels == ["up", "down"]


def test_header_is_optional_beyond_data_and_class_labels(tmp_path):
    path = write(tmp_path, "1,2:3,4:a\n5,6:7,8:b\n", header="@classLabel true a b\n@data\n")
    x, labels = read_ts(path)
    assert x.shape == (2, 2, 2) and labels == ["a", "b"]


@pytest.mark.parametrize(
    "body, line, expected",
    [
        ("1,2,3:4,x,6:up\n", 11, "dimension 1 holds 'x'"),
        ("1,2,3:up\n", 11, "got 1 dimensions; expected 2"),
        ("1,2,3:4,5,6:up\n1,2:4,5:down\n", 12, "series length [2]; expected 3"),
        ("1,2,3:4,5,6:sideways\n", 11, "label 'sideways' is not among"),
        ("up\n", 11, "no ':' separator"),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path, body, line, expected):
    path = write(tmp_path, body)
    with pytest.raises(DataError) as info:
        read_ts(path)
    message = str(info.value)
    assert f"{path}, line {line}" in message and expected in message


@pytest.mark.parametrize(
    "header, expected",
    [
        ("@timeStamps true\n@data\n", "@timeStamps true is not supported"),
        ("@equalLength false\n@data\n", "@equalLength false is not supported"),
        ("@classLabel false\n@data\n", "expected class labels"),
        ("@dimensions two\n@data\n", "got 'two'; expected an integer"),
        ("1,2:up\n", "before @data"),
    ],
)
def test_unsupported_or_malformed_headers(tmp_path, header, expected):
    with pytest.raises(DataError, match=expected):
        read_ts(write(tmp_path, "1,2:3,4:up\n", header=header))


def test_missing_data_section_and_empty_data(tmp_path):
    with pytest.raises(DataError, match="no @data line"):
        read_ts(write(tmp_path, "", header="@problemName x\n"))
    with pytest.raises(DataError, match="no series after @data"):
        read_ts(write(tmp_path, "# nothing\n"))
    with pytest.raises(DataError, match="cannot read .ts file"):
        read_ts(tmp_path / "absent.ts")
