package layout

import "buildledger/eventstore"

// Attribute names of who sent a command, in events and commands items alike. Both are
// optional: items stored before they were recorded, and commands the worker sent itself,
// have neither.
const (
	// SenderID holds the transport's sender principal (a string).
	SenderID = "senderId"
	// Identity holds the sender's verified identity: a map of the Identity members below,
	// each a string, empty claims left out.
	Identity = "identity"
)

// Member names of the Identity map.
const (
	IdentityIssuer     = "issuer"
	IdentitySubject    = "subject"
	IdentityRepository = "repository"
	IdentityRef        = "ref"
	IdentityWorkflow   = "workflow"
	IdentityRunID      = "runId"
	IdentityActor      = "actor"
)

// IdentityMember is one claim of an Identity as its map holds it.
type IdentityMember struct {
	// Name is the member name, e.g. IdentityIssuer.
	Name string
	// Value is the claim.
	Value string
}

// IdentityMembers returns the non-empty claims of i by member name, in a fixed order;
// none for the zero Identity, which is stored as no attribute at all.
func IdentityMembers(i eventstore.Identity) []IdentityMember {
	all := []IdentityMember{
		{IdentityIssuer, i.Issuer}, {IdentitySubject, i.Subject}, {IdentityRepository, i.Repository},
		{IdentityRef, i.Ref}, {IdentityWorkflow, i.Workflow}, {IdentityRunID, i.RunID}, {IdentityActor, i.Actor},
	}
	out := all[:0]
	for _, m := range all {
		if m.Value != "" {
			out = append(out, m)
		}
	}
	return out
}

// IdentityFromMembers returns the Identity whose claims get returns by member name.
// Members it does not know are ignored, so that a later version may add claims.
func IdentityFromMembers(get func(name string) string) eventstore.Identity {
	return eventstore.Identity{
		Issuer: get(IdentityIssuer), Subject: get(IdentitySubject), Repository: get(IdentityRepository),
		Ref: get(IdentityRef), Workflow: get(IdentityWorkflow), RunID: get(IdentityRunID), Actor: get(IdentityActor),
	}
}

// senderSize is the size of the SenderID and Identity attributes: DynamoDB counts a map
// as 3 bytes plus, per member, its name, its value and 1 byte.
func senderSize(senderID string, i eventstore.Identity) int {
	n := optionalStringAttrSize(SenderID, senderID)
	members := IdentityMembers(i)
	if len(members) == 0 {
		return n
	}
	n += len(Identity) + 3
	for _, m := range members {
		n += len(m.Name) + len(m.Value) + 1
	}
	return n
}
