package workflow

// Platform describes a chat platform to the roster: the name its IDs are
// filed under (Person.Accounts, ChannelRef, the roster file's keys) and how
// an ID written in the roster file is read and checked. The domain knows no
// platform by name: each adapter describes its own, and the composition root
// hands the descriptions to whatever reads the roster file.
type Platform struct {
	// Name is the platform's key: in the roster file ("slack: U0CHEN"), in
	// Person.Accounts and ChannelRef, and as Request.Platform.
	Name string
	// ParseAccount reads a person's user ID as written in the roster file
	// and returns it in the form the adapter looks people up by. Its error
	// completes a sentence about the key ("slack" + " must be …"); an *Error
	// keeps both languages.
	ParseAccount func(string) (string, error)
	// ParseAddress reads a channel's ID (a conversation, a group chat) the
	// same way.
	ParseAddress func(string) (string, error)
}
