package handlers

// DigestMessage is digestMessage, for the tests of the digest.
var DigestMessage = (*Handlers).digestMessage

// SignText is signText, for the tests of the spreading notice.
var SignText = (*Handlers).signText
