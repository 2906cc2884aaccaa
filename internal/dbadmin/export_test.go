package dbadmin

// VerifierWithSalt lets the external tests recompute a stored verifier.
var VerifierWithSalt = verifier
