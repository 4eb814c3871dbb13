package convert_test

import (
	"errors"
	"reflect"
	"strconv"
	"testing"

	"buildledger/internal/convert"
)

func TestAll(t *testing.T) {
	got, err := convert.All([]int{1}, []string{"2", "3"}, strconv.Atoi)
	if err != nil || !reflect.DeepEqual(got, []int{1, 2, 3}) {
		t.Fatalf("All = %v, %v; want [1 2 3], nil", got, err)
	}
	got, err = convert.All([]int{1}, []string{"2", "x", "4"}, strconv.Atoi)
	var numErr *strconv.NumError
	if got != nil || !errors.As(err, &numErr) || numErr.Num != "x" {
		t.Fatalf("All with a bad element = %v, %v; want nil and the error of \"x\" as it is", got, err)
	}
}

func TestAttributes(t *testing.T) {
	got, err := convert.Attributes(map[string]string{"a": "1", "b": "2"}, strconv.Atoi)
	if err != nil || !reflect.DeepEqual(got, map[string]int{"a": 1, "b": 2}) {
		t.Fatalf("Attributes = %v, %v; want map[a:1 b:2], nil", got, err)
	}
	got, err = convert.Attributes(map[string]string{"n": "x"}, strconv.Atoi)
	if got != nil || err == nil || err.Error() != `attribute n: strconv.Atoi: parsing "x": invalid syntax` || !errors.Is(err, strconv.ErrSyntax) {
		t.Fatalf("Attributes with a bad value = %v, %v; want nil and an error naming attribute n that wraps the cause", got, err)
	}
}
