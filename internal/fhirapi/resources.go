package fhirapi

// The search parameters of each resource type, and how each becomes the
// fhir function's arguments (before _count, _offset and the base).

func patientSearchArgs(q query) ([]any, error) {
	id, err := q.id("_id")
	if err != nil {
		return nil, err
	}
	name, match, err := q.stringMatch("name")
	if err != nil {
		return nil, err
	}
	gender, err := q.text("gender")
	if err != nil {
		return nil, err
	}
	from, before, err := q.dateRange("_lastUpdated")
	if err != nil {
		return nil, err
	}
	return []any{id, name, match, gender, from, before}, nil
}

func practitionerSearchArgs(q query) ([]any, error) {
	id, err := q.id("_id")
	if err != nil {
		return nil, err
	}
	name, match, err := q.stringMatch("name")
	if err != nil {
		return nil, err
	}
	return []any{id, name, match}, nil
}

func practitionerRoleSearchArgs(q query) ([]any, error) {
	practitioner, err := q.id("practitioner")
	if err != nil {
		return nil, err
	}
	specialty, err := q.specialty()
	if err != nil {
		return nil, err
	}
	return []any{practitioner, specialty}, nil
}

func careTeamSearchArgs(q query) ([]any, error) {
	patient, err := q.eitherID("patient", "subject")
	if err != nil {
		return nil, err
	}
	participant, err := q.id("participant")
	if err != nil {
		return nil, err
	}
	return []any{patient, participant}, nil
}

func auditEventSearchArgs(q query) ([]any, error) {
	patient, err := q.eitherID("entity", "patient")
	if err != nil {
		return nil, err
	}
	agent, err := q.id("agent")
	if err != nil {
		return nil, err
	}
	from, before, err := q.dateRange("date")
	if err != nil {
		return nil, err
	}
	until, err := q.until()
	if err != nil {
		return nil, err
	}
	return []any{patient, agent, from, before, until}, nil
}
