"""The peptide data, their encoding against Biopython's BLOSUM62, the example's networks
against hand counts, position importance, and the scoring function's errors."""

import keras
import numpy as np
import pytest
from Bio.Align import substitution_matrices

from cnnbook import peptides
from cnnbook.datasets import peptides as peptide_data
from cnnbook.datasets import registry

HEADER = "peptide\tlabel_chr\tlabel_num\tdata_type\n"
GOOD_ROWS = "LLTDAQRIV\tWB\t1\ttrain\nLMAFYLYEV\tSB\t2\ttrain\nVMSPITLPT\tNB\t0\ttest\n"


def write(folder, text, name="peptides.tsv"):
    path = folder / name
    path.write_text(text)
    return path


def test_read_returns_the_split_as_keras_loaders_do(tmp_path):
    (x_train, y_train), (x_test, y_test) = peptide_data.read(write(tmp_path, HEADER + GOOD_ROWS))
    assert x_train.tolist() == ["LLTDAQRIV", "LMAFYLYEV"] and y_train.tolist() == [1, 2]
    assert x_test.tolist() == ["VMSPITLPT"] and y_test.tolist() == [0]


@pytest.mark.parametrize(
    "row, problem",
    [
        ("LLTDAQRI\tWB\t1\ttrain\n", "peptide 'LLTDAQRI' has 8 letters, expected 9"),
        ("LLTDAQRIVV\tWB\t1\ttrain\n", "has 10 letters"),
        ("LLTDAQRIX\tWB\t1\ttrain\n", "has 'X', not one of the 20 amino acids"),
        ("lltdaqriv\tWB\t1\ttrain\n", "not one of the 20 amino acids"),
        ("LLTDAQRIV\tXB\t1\ttrain\n", "unknown class 'XB'"),
        ("LLTDAQRIV\tSB\t1\ttrain\n", "label_num '1' does not match class 'SB'"),
        ("LLTDAQRIV\tWB\t1\tvalidation\n", "data_type 'validation'"),
        ("LLTDAQRIV\tWB\t1\n", "3 tab-separated fields, expected 4"),
    ],
)
def test_a_malformed_row_is_named_by_file_and_line(tmp_path, row, problem):
    path = write(tmp_path, HEADER + GOOD_ROWS + row)
    with pytest.raises(registry.DataFileError) as caught:
        peptide_data.read(path)
    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert message.startswith(f"{path}, line 5: ") and problem in message


def test_a_wrong_header_is_refused(tmp_path):
    path = write(tmp_path, "sequence\tlabel\n" + GOOD_ROWS)
    with pytest.raises(registry.DataFileError, match=r"line 1: the header is"):
        peptide_data.read(path)


def test_a_file_with_the_right_name_but_other_contents_is_refused(tmp_path, monkeypatch):
    write(tmp_path, HEADER + GOOD_ROWS, registry.entry("peptides")["files"][0])
    monkeypatch.setenv("CNNBOOK_DATA_DIR", str(tmp_path))
    with pytest.raises(registry.DataFileError, match="is not the expected peptides file"):
        peptide_data.load_data()


def test_the_real_file_has_the_manifests_counts():
    (x_train, y_train), (x_test, y_test) = peptide_data.load_data()
    assert len(x_train) + len(x_test) == 23_760
    assert (len(x_train), len(x_test)) == (21_384, 2_376)
    assert np.bincount(np.concatenate([y_train, y_test])).tolist() == [7_920] * 3
    assert np.bincount(y_train).tolist() == [7_138, 7_128, 7_118]
    assert np.bincount(y_test).tolist() == [782, 792, 802]
    assert (x_train[0], y_train[0]) == ("LLTDAQRIV", 1)  # the example's first rows
    assert (x_test[0], y_test[0]) == ("VMSPITLPT", 1)


def test_blosum62_is_biopythons_matrix():
    matrix = substitution_matrices.load("BLOSUM62")
    table = peptides.blosum62()
    index = peptides.AMINO_ACIDS.index
    for a, b, score in [("W", "W", 11), ("A", "A", 4), ("C", "C", 9), ("W", "Y", 2)]:
        assert table[index(a), index(b)] == score
    for a in peptides.AMINO_ACIDS:
        for b in peptides.AMINO_ACIDS:
            assert table[index(a), index(b)] == matrix[a][b]


def test_encoding_gives_each_residue_its_row():
    encoded = peptides.encode(["WACWACWAC", "gilgfvftl"])
    assert encoded.shape == (2, 9, 20) and encoded.dtype == np.float32
    w, a = peptides.AMINO_ACIDS.index("W"), peptides.AMINO_ACIDS.index("A")
    assert encoded[0, 0, w] == 11 and encoded[0, 1, a] == 4 and encoded[0, 2, 4] == 9
    assert np.array_equal(encoded[1], peptides.encode(["GILGFVFTL"])[0])
    one_hot = peptides.encode(["GILGFVFTL"], "one_hot")[0]
    assert one_hot.sum() == 9 and one_hot.sum(axis=1).tolist() == [1] * 9
    assert "".join(peptides.AMINO_ACIDS[i] for i in one_hot.argmax(axis=1)) == "GILGFVFTL"


@pytest.mark.parametrize(
    "request_, message",
    [
        (["GILGFVFTL", "GILGFVFT"], r"entry 1 \('GILGFVFT'\) has 8 letters"),
        (["GILGFVFTL", "SLYNTVATLA"], r"entry 1 \('SLYNTVATLA'\) has 10 letters"),
        (["GILGFVFTX"], r"entry 0 \('GILGFVFTX'\) has 'X' at position 9"),
        (["GILG FVFT"], r"has ' ' at position 5"),
        (["GILGFVFTL", 7], r"entry 1 is 7, not a string"),
        ("GILGFVFTL", r"got the single string 'GILGFVFTL'; pass a list"),
        ([], r"got no peptides"),
    ],
)
def test_scoring_refuses_a_wrong_entry_by_its_number(request_, message):
    with pytest.raises(ValueError, match=message):
        peptides.score(peptides.dense_network(), request_)


def test_scoring_gives_each_peptide_its_class_and_probabilities():
    keras.utils.set_random_seed(0)
    model = peptides.dense_network()
    scores = peptides.score(model, ["gilgfvftl", " NLVPMVATV "])
    expected = model.predict(peptides.encode(["GILGFVFTL", "NLVPMVATV"]), verbose=0)
    assert [s.peptide for s in scores] == ["GILGFVFTL", "NLVPMVATV"]
    for result, row in zip(scores, expected, strict=True):
        assert list(result.probabilities) == ["NB", "WB", "SB"]
        assert np.allclose(list(result.probabilities.values()), row, atol=1e-6)
        assert result.predicted == peptides.CLASSES[row.argmax()]


def test_the_networks_have_the_parameters_counted_by_hand():
    head = (180 * 90 + 90) + (90 * 3 + 3)  # dense 90 and softmax 3
    assert peptides.dense_network().count_params() == (180 * 180 + 180) + head == 49_143
    conv2d = 32 * (3 * 3 + 1)
    assert peptides.cnn_2d().count_params() == conv2d + (7 * 18 * 32 * 180 + 180) + head
    conv1d = 32 * (3 * 20 + 1)
    assert peptides.cnn_1d().count_params() == conv1d + (7 * 32 * 180 + 180) + head


def test_position_importance_finds_the_only_position_used():
    rng = np.random.default_rng(0)
    letters = np.array(list(peptides.AMINO_ACIDS))
    strings = ["".join(rng.choice(letters, 9)) for _ in range(400)]
    x = peptides.encode(strings, "one_hot")
    leucine = peptides.AMINO_ACIDS.index("L")

    def predict(x):  # class SB when position 2 holds leucine, else NB
        return np.eye(3)[np.where(x[:, 1, leucine] == 1, 2, 0)]

    labels = predict(x).argmax(axis=-1)
    drops = peptides.position_importance(predict, x, labels, repeats=3)
    assert drops.shape == (9,)
    assert drops[1] > 0.05 and np.all(np.delete(drops, 1) == 0)


def test_training_is_kept_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNBOOK_CACHE_DIR", str(tmp_path))
    x = peptides.encode(["GILGFVFTL", "NLVPMVATV", "DDDDDDDDD", "KKKKKKKKK"] * 10)
    y = keras.utils.to_categorical([2, 2, 0, 0] * 10, 3)
    first = peptides.train(peptides.dense_network, x, y, epochs=2)
    again = peptides.train(peptides.dense_network, x, y, epochs=2)
    assert not first.from_cache and again.from_cache
    assert again.history == first.history and len(first.history["val_accuracy"]) == 2
    assert np.allclose(first.model.predict(x, verbose=0), again.model.predict(x, verbose=0))
