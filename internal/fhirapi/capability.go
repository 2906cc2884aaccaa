package fhirapi

import (
	"encoding/json"
	"net/http"
)

// CapabilityStatement is built from the route table, so it lists exactly
// what New registers.

// capabilityDate is when this CapabilityStatement's content last changed.
const capabilityDate = "2026-12-07"

type capabilityStatement struct {
	ResourceType   string           `json:"resourceType"`
	Status         string           `json:"status"`
	Date           string           `json:"date"`
	Publisher      string           `json:"publisher"`
	Kind           string           `json:"kind"`
	Implementation implementation   `json:"implementation"`
	FHIRVersion    string           `json:"fhirVersion"`
	Format         []string         `json:"format"`
	Rest           []capabilityRest `json:"rest"`
}

type implementation struct {
	Description string `json:"description"`
	URL         string `json:"url"`
}

type capabilityRest struct {
	Mode          string               `json:"mode"`
	Documentation string               `json:"documentation"`
	Security      security             `json:"security"`
	Resource      []capabilityResource `json:"resource"`
}

type security struct {
	CORS        bool              `json:"cors"`
	Service     []codeableConcept `json:"service"`
	Description string            `json:"description"`
}

type codeableConcept struct {
	Coding []coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

type capabilityResource struct {
	Type              string             `json:"type"`
	Interaction       []interaction      `json:"interaction"`
	Versioning        string             `json:"versioning"`
	ReadHistory       bool               `json:"readHistory"`
	UpdateCreate      bool               `json:"updateCreate"`
	ConditionalCreate bool               `json:"conditionalCreate"`
	ConditionalRead   string             `json:"conditionalRead"`
	ConditionalUpdate bool               `json:"conditionalUpdate"`
	ConditionalDelete string             `json:"conditionalDelete"`
	SearchParam       []capabilitySearch `json:"searchParam,omitempty"`
}

type interaction struct {
	Code string `json:"code"`
}

type capabilitySearch struct {
	Name          string `json:"name"`
	Definition    string `json:"definition,omitempty"`
	Type          string `json:"type"`
	Documentation string `json:"documentation,omitempty"`
}

// capabilityFor builds the statement for the public base URL.
func capabilityFor(table []Route, base string) capabilityStatement {
	rest := capabilityRest{
		Mode: "server",
		Documentation: "The same records, rules and audit trail as the REST API at /api: PostgreSQL's row-level security decides what each caller sees. " +
			"Searches page with _count (at most 100) and _offset; unknown parameters are ignored unless Prefer: handling=strict. " +
			"Extensions: " + canonical("patient-gender-text") + " (valueString: the gender as the client sent it) and " +
			canonical("patient-age") + " (valueAge in years: FHIR has no age element and no birth date is stored).",
		Security: security{
			Service: []codeableConcept{{
				Coding: []coding{{System: "http://terminology.hl7.org/CodeSystem/restful-security-service", Code: "OAuth", Display: "OAuth"}},
				Text:   "Bearer JWT access token",
			}},
			Description: "Send Authorization: Bearer <access token>, the token POST /api/auth/login/ issues (RFC 6750 bearer usage). SMART on FHIR scopes are not supported.",
		},
	}
	byType := map[string]int{}
	for _, rt := range table {
		if rt.Resource == "" {
			continue
		}
		i, ok := byType[rt.Resource]
		if !ok {
			i = len(rest.Resource)
			byType[rt.Resource] = i
			rest.Resource = append(rest.Resource, capabilityResource{Type: rt.Resource, Versioning: "no-version",
				ConditionalRead: "not-supported", ConditionalDelete: "not-supported"})
		}
		res := &rest.Resource[i]
		res.Interaction = append(res.Interaction, interaction{Code: rt.Interaction})
		switch rt.Interaction {
		case "vread":
			res.ReadHistory = true
			res.Versioning = "versioned"
		case "update":
			if res.Versioning == "no-version" {
				res.Versioning = "versioned-update"
			}
		}
		for _, p := range rt.Search {
			res.SearchParam = append(res.SearchParam, capabilitySearch{Name: p.Name, Definition: p.Ref, Type: p.Type, Documentation: p.Doc})
		}
		if rt.Interaction == "search-type" {
			res.SearchParam = append(res.SearchParam,
				capabilitySearch{Name: "_count", Type: "number", Documentation: "Page size: 50 by default, at most 100; 0 answers the total only."},
				capabilitySearch{Name: "_offset", Type: "number", Documentation: "How many matches to skip (the next and previous links carry it)."})
		}
	}
	for i := range rest.Resource {
		// vread makes a type versioned even when update came first.
		if rest.Resource[i].ReadHistory {
			rest.Resource[i].Versioning = "versioned"
		}
	}
	return capabilityStatement{
		ResourceType: "CapabilityStatement", Status: "active", Date: capabilityDate, Publisher: "healthcare", Kind: "instance",
		Implementation: implementation{Description: "Healthcare records API, FHIR R4 endpoint", URL: base},
		FHIRVersion:    "4.0.1", Format: []string{"json"}, Rest: []capabilityRest{rest},
	}
}

// canonical is the canonical URL of one of this server's definitions; the
// same text as fhir.canonical in SQL.
func canonical(name string) string {
	return "https://healthcare.example.org/fhir/StructureDefinition/" + name
}

func (s *server) capabilities(w http.ResponseWriter, r *http.Request, _ call) {
	body, err := json.Marshal(capabilityFor(s.routes, s.base(r)))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeBody(w, http.StatusOK, body)
}
