package auth

// The detailed reasons behind ErrInvalid, for the tables that check which
// one a token is refused for.
var (
	ErrTooLarge    = errTooLarge
	ErrMalformed   = errMalformed
	ErrAlgorithm   = errAlgorithm
	ErrSignature   = errSignature
	ErrNotYetValid = errNotYetValid
	ErrAudience    = errAudience
	ErrIssuer      = errIssuer
	ErrClaims      = errClaims
)

// MaxAuthorizationBytes is the bound a huge header is refused past.
const MaxAuthorizationBytes = maxAuthorizationBytes
