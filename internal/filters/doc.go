// Package filters implements the Docker Engine API's "filters" query
// parameter: a JSON object mapping a filter key to a set of values, as in
// GET /containers/json?filters={"status":{"running":true}}.
//
// # Wire forms
//
// FromJSON accepts both forms dockerd accepts:
//
//	{"label":{"a=b":true,"c":true}}   current form (API >= 1.22): a set
//	{"label":["a=b","c"]}             legacy form (older clients): a list
//
// and ToJSON always writes the current form. An empty string, and an
// empty Args, stand for "no filters". Anything else that is not one of
// the two forms fails with an *InvalidFilterError reading "invalid filter"
// (class errdefs.ErrInvalidArgument), as dockerd answers.
//
// # Matching
//
// Every matcher treats a key that is absent, or present with no values, as
// "no filter": it matches everything. Otherwise:
//
//   - ExactMatch: the source equals one of the values.
//   - UniqueExactMatch: the key has exactly one value, equal to the source.
//   - FuzzyMatch: the source equals one of the values or has one as a
//     prefix (events use it for IDs and names).
//   - Match: the source equals one of the values, or one of the values,
//     read as an unanchored regular expression, matches somewhere in it
//     (so name=web matches "my-web-1"); values that are not valid
//     regular expressions only match exactly.
//   - MatchKVList (label filters): every value must hold; "k" holds if the
//     labels have key k, "k=v" if they map k to exactly v. There is no
//     "k!=v" in this syntax: Docker expresses negation with a separate key
//     "label!" (prune endpoints), whose values are matched with MatchKVList
//     and the result inverted by the caller.
//
// These mirror moby's api/types/filters, including the quirk that a value
// sent as false in the current form ({"k":{"v":false}}) is a member of the
// key but never equals anything.
//
// # Invariants
//
// An Args is immutable once built: no method changes it and Get and Keys
// return fresh, sorted slices, so one Args may be shared between
// goroutines. The zero Args is valid and empty.
package filters
