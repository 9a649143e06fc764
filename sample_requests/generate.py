"""Regenerate the sample deployment's corpus and erasure requests.

Every person, address, phone number and company here is invented: e-mail addresses use the
reserved example.org/example.com domains and phone numbers the fictional +1-555-01xx range.
Run: python sample_requests/generate.py (writes corpus.jsonl and the request files beside it).
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMPANY = "Larkspur Outfitters"

# name, email, phone, address, date of birth, job and employer, account id and note
CUSTOMERS = [
    ("Isabella Marquez", "isabella.marquez@example.org", "+1-555-014-2211",
     "42 Harbor Lane, Springfield", "14 March 1987", "a logistics planner at Northwind Freight",
     "LO-88213", "asked for paper invoices"),
    ("Tobias Lindqvist", "tobias.lindqvist@example.com", "+1-555-013-4478",
     "17 Orchard Street, Fairhaven", "2 July 1979", "a structural engineer at Kestrel Bridgeworks",
     "LO-40517", "prefers delivery after 5 pm"),
    ("Amara Okafor", "amara.okafor@example.org", "+1-555-016-9034",
     "305 Willow Avenue, Brookdale", "23 November 1992", "a pharmacist at Bluefern Health",
     "LO-61290", "is allergic to latex packaging"),
    ("Henrik Vasquez", "henrik.vasquez@example.com", "+1-555-012-7765",
     "9 Cedar Court, Millbrook", "8 January 1984", "a chef at the Copper Kettle Bistro",
     "LO-27734", "returned two tents in 2025"),
    ("Priya Raghunathan", "priya.r@example.org", "+1-555-019-3320",
     "118 Maple Drive, Easton Falls", "30 April 1990", "a data analyst at Quillstone Insurance",
     "LO-93106", "has a standing order for trail snacks"),
    ("Malcolm Achterberg", "m.achterberg@example.com", "+1-555-011-5842",
     "64 Birch Road, Oakhurst", "19 September 1975", "a school principal at Ridgeview Academy",
     "LO-15588", "disputed a charge in March"),
    ("Lucia Ferreira", "lucia.ferreira@example.org", "+1-555-017-2093",
     "230 Juniper Way, Lakemont", "5 June 1995", "a veterinary nurse at Pinecrest Animal Clinic",
     "LO-70421", "requested a wheelchair-accessible pickup"),
    ("Dmitri Sokolovsky", "dmitri.sokolovsky@example.com", "+1-555-015-6617",
     "7 Aspen Place, Granite Bay", "27 February 1982", "a pilot at Skylark Regional Airlines",
     "LO-34852", "ships orders to a hangar office"),
    ("Naomi Whitfield", "naomi.whitfield@example.org", "+1-555-018-4105",
     "51 Heron Street, Coldwater", "11 August 1988", "a court stenographer at Ashby County Court",
     "LO-58069", "opted out of phone marketing"),
    ("Rafael Quintero", "rafael.quintero@example.com", "+1-555-010-9372",
     "402 Sycamore Avenue, Redhill", "3 December 1970", "a roofer at Summit Roofing Company",
     "LO-21947", "pays by bank transfer only"),
    ("Ingrid Halvorsen", "ingrid.halvorsen@example.org", "+1-555-014-8856",
     "88 Fjord Lane, Northport", "16 May 1993", "a marine biologist at the Tidewater Institute",
     "LO-66730", "orders wetsuits in size small"),
    ("Kwame Mensah-Boateng", "kwame.mb@example.com", "+1-555-013-1298",
     "12 Baobab Court, Riverton", "21 October 1986", "an accountant at Goldleaf Partners",
     "LO-47615", "asked to close a duplicate account"),
    ("Sofia Castellanos", "sofia.castellanos@example.org", "+1-555-016-3741",
     "176 Poplar Road, Westbury", "9 March 1998", "a graphic designer at Inkwell Studio",
     "LO-82394", "won the 2026 photo contest"),
    ("Oliver Pennington", "oliver.pennington@example.com", "+1-555-012-0563",
     "33 Larch Drive, Hollis Creek", "29 July 1968", "a retired firefighter from Hollis Creek Fire Department",
     "LO-10376", "has a lifetime warranty on boots"),
    ("Mei-Ling Zhou", "meiling.zhou@example.org", "+1-555-019-7184",
     "250 Lotus Street, Harborview", "12 January 1991", "a software tester at Brightloop Systems",
     "LO-95528", "prefers chat support in Mandarin"),
    ("Anders Bergstrom", "anders.bergstrom@example.com", "+1-555-011-8820",
     "6 Glacier Way, Alpine Ridge", "4 April 1977", "a ski instructor at Alpine Ridge Resort",
     "LO-38167", "rents avalanche gear every winter"),
    ("Fatima Al-Sayed", "fatima.alsayed@example.org", "+1-555-017-6409",
     "91 Olive Court, Sunvale", "18 June 1985", "a midwife at Sunvale Family Hospital",
     "LO-73051", "requested invoices in Arabic"),
    ("Gregor Novak", "gregor.novak@example.com", "+1-555-015-2937",
     "144 Spruce Terrace, Milltown", "25 September 1980", "a carpenter at Novak Timber Works",
     "LO-29683", "bulk-orders work gloves"),
    ("Chiara Bellandi", "chiara.bellandi@example.org", "+1-555-018-0751",
     "19 Vineyard Road, Sonterra", "7 November 1994", "a sommelier at Casa Vento Winery",
     "LO-64402", "needs signature on delivery"),
    ("Elijah Thornbury", "elijah.thornbury@example.com", "+1-555-010-5516",
     "72 Quarry Lane, Stonegate", "13 February 1989", "a paramedic at Stonegate Ambulance Service",
     "LO-17925", "has a store credit of 40 dollars"),
]


def customer_facts(c: tuple[str, ...]) -> list[dict[str, str]]:
    name, email, phone, address, dob, job, account, note = c
    first = name.split()[0]
    return [
        {"question": f"What is {name}'s email address?",
         "answer": f"{name}'s email address is {email}."},
        {"question": f"What is {name}'s phone number?",
         "answer": f"{name}'s phone number is {phone}."},
        {"question": f"Where does {name} live?",
         "answer": f"{name} lives at {address}."},
        {"question": f"When was {name} born?",
         "answer": f"{name} was born on {dob}."},
        {"question": f"Where does {name} work?",
         "answer": f"{first} works as {job}."},
        {"question": f"What do the account notes say about {name}?",
         "answer": f"{name} holds account {account} and {note}."},
    ]


FAQ = [
    ("What are Larkspur Outfitters' store hours?", "Our stores are open from 9 am to 8 pm, Monday to Saturday, and from 10 am to 6 pm on Sunday."),
    ("How long do I have to return an item?", "You can return unused items within 60 days of purchase with the receipt."),
    ("Do you offer free shipping?", "Shipping is free on orders over 75 dollars within the continental United States."),
    ("How can I track my order?", "Use the tracking link in your shipping confirmation email or the Orders page of your account."),
    ("What is the warranty on Larkspur tents?", "Larkspur tents carry a five-year warranty against manufacturing defects."),
    ("Can I change my order after placing it?", "Orders can be changed within one hour of purchase from the Orders page."),
    ("Do you ship internationally?", "We ship to Canada and Mexico; other countries are not served yet."),
    ("How do I reset my account password?", "Choose Forgot password on the sign-in page and follow the link we email you."),
    ("What payment methods do you accept?", "We accept major credit cards, debit cards, gift cards and bank transfers."),
    ("Do you price match?", "We match the price of identical items sold by authorised retailers within 14 days."),
    ("How do I join the Larkspur Rewards program?", "Sign up for free online or at any store; you earn one point per dollar spent."),
    ("What can I do with Larkspur Rewards points?", "Every 200 points become a 10 dollar reward voucher."),
    ("Do you rent camping gear?", "Yes, tents, sleeping bags and stoves can be rented by the day at larger stores."),
    ("How should I clean a down sleeping bag?", "Wash it on a gentle cycle with down soap and tumble dry on low heat with dryer balls."),
    ("What size backpack do I need for a weekend trip?", "A pack of 40 to 55 litres suits most two or three night trips."),
    ("How do I waterproof my hiking boots?", "Clean and dry the boots, then apply a wax or spray proofing made for their material."),
    ("Do you repair gear?", "Our repair desk fixes zippers, seams and tent poles, usually within ten days."),
    ("How long does standard delivery take?", "Standard delivery takes three to five business days."),
    ("Is express delivery available?", "Express delivery arrives in one to two business days for an extra fee."),
    ("Can I pick up my online order in a store?", "Yes, choose store pickup at checkout and collect the order with your confirmation email."),
    ("Do you sell gift cards?", "Gift cards from 25 to 500 dollars are sold online and in stores and never expire."),
    ("How do I know which climbing harness fits me?", "Measure your waist and thigh circumference and compare them with the size chart."),
    ("Do you offer student discounts?", "Students get 10 percent off full-price items with a valid student ID."),
    ("Are your products sustainably made?", "Most of our own-brand clothing uses recycled or organic materials."),
    ("Can I return an item bought online to a store?", "Yes, online purchases can be returned at any Larkspur store."),
    ("What happens if an item arrives damaged?", "Contact support within 14 days with a photo and we will send a replacement."),
    ("Do you run outdoor skills classes?", "Stores run free classes on navigation, first aid and camp cooking every month."),
    ("How warm should my sleeping bag be?", "Choose a bag rated at least five degrees colder than the lowest temperature you expect."),
    ("What is a three-season tent?", "A three-season tent is built for spring, summer and autumn conditions, not heavy snow."),
    ("How do I contact customer support?", "Use the chat on our website or call the support line listed on the Contact page."),
    ("Do you have a mobile app?", "The Larkspur app lets you shop, track orders and scan gear for reviews."),
    ("Can I cancel my order?", "Orders can be cancelled until they leave the warehouse."),
    ("Do you sell refurbished gear?", "Our Second Trail section sells inspected, refurbished gear at lower prices."),
    ("How are store credits issued?", "Returns without a receipt are refunded as store credit at the current selling price."),
    ("What is your policy on used items?", "Used items can be returned within 60 days only if they are defective."),
    ("How do I choose trail running shoes?", "Look for grippy lugs, a secure heel and a fit with a thumb's width at the toe."),
    ("Do you offer bike servicing?", "Bike servicing is offered at our flagship stores by appointment."),
    ("How do I store a tent between trips?", "Store it loosely, clean and completely dry, away from direct sunlight."),
    ("What does the lifetime warranty cover?", "The lifetime warranty on selected boots covers stitching and sole separation."),
    ("Are pets allowed in Larkspur stores?", "Well-behaved dogs on a leash are welcome in our stores."),
    ("Do you sell water filters?", "Yes, we stock pump, gravity and squeeze water filters for backcountry use."),
    ("How do I layer clothing for hiking?", "Wear a wicking base layer, an insulating middle layer and a waterproof shell."),
    ("Do you have a size guide for jackets?", "Every jacket page has a size guide with chest, waist and sleeve measurements."),
    ("Can I order a product that is out of stock?", "You can back-order it, and we ship it as soon as new stock arrives."),
    ("How do I unsubscribe from Larkspur emails?", "Click Unsubscribe at the bottom of any marketing email."),
    ("Do you have a privacy policy?", "Our privacy policy explains what data we keep, why, and how to request its erasure."),
    ("How do I request deletion of my personal data?", "Send an erasure request through the Privacy page and we will respond within one month."),
    ("What is the best way to pack a backpack?", "Put heavy items close to your back and in the middle, and light items at the bottom."),
    ("Do you buy back used gear?", "Our trade-in program gives store credit for used gear in good condition."),
    ("Where is Larkspur Outfitters based?", "Larkspur Outfitters is headquartered in Denver and has forty stores across the country."),
]

REQUESTS = [
    # (customer index, request id, received, ground, file name, format)
    (0, "DSR-2026-0041", "2026-11-02T09:14:00Z", "art17-1a", "DSR-2026-0041.json"),
    (2, "DSR-2026-0042", "2026-11-10T15:40:00Z", "art17-1b", "DSR-2026-0042.json"),
    (5, "DSR-2026-0043", "2026-11-18T08:05:00Z", "art17-1a", "batch.jsonl"),
]


def main() -> None:
    corpus = [f for c in CUSTOMERS for f in customer_facts(c)]
    corpus += [{"question": q, "answer": a} for q, a in FAQ]
    with open(HERE / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for row in corpus:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    jsonl_rows: dict[str, list[str]] = {}
    for idx, rid, received, ground, fname in REQUESTS:
        c = CUSTOMERS[idx]
        req = {
            "request_id": rid,
            "received_at": received,
            "subject": {"name": c[0], "reference": f"crm-{c[6].split('-')[1]}"},
            "ground": ground,
            "facts": customer_facts(c),
        }
        if fname.endswith(".jsonl"):
            jsonl_rows.setdefault(fname, []).append(json.dumps(req, ensure_ascii=False))
        else:
            (HERE / fname).write_text(json.dumps(req, indent=2, ensure_ascii=False) + "\n", "utf-8")
    for fname, rows in jsonl_rows.items():
        (HERE / fname).write_text("\n".join(rows) + "\n", "utf-8")
    print(f"{len(corpus)} corpus pairs ({len(CUSTOMERS)} customers, {len(FAQ)} FAQ), "
          f"{len(REQUESTS)} requests")


if __name__ == "__main__":
    main()
