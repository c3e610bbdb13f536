package manifests

// CheckDocuments exposes checkDocuments to the tests.
var CheckDocuments = checkDocuments
