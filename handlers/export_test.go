package handlers

// DigestMessage is digestMessage, for the tests of the digest.
var DigestMessage = (*Handlers).digestMessage
