"""A realistic demo data set: members of every type across several regions.

Names are real members and candidates of the network; populations are rounded; contact
people are fictional. Every IČO passes the mod-11 check (a test keeps it so).
"""
# name, type, region, IČO, population, member since, website, part of (slug)
MEMBERS = [
    ("Liberecký kraj", "region", "Liberecký kraj", "70891508", 447000, "2011-03-01", "https://www.kraj-lbc.cz", None),
    ("Kraj Vysočina", "region", "Kraj Vysočina", "70890749", 512700, "2003-05-15", "https://www.kr-vysocina.cz", None),
    ("Jihomoravský kraj", "region", "Jihomoravský kraj", "70888337", 1195000, "2014-06-01", "https://www.jmk.cz", None),
    ("Moravskoslezský kraj", "region", "Moravskoslezský kraj", "70890692", 1177000, "2009-09-01", "https://www.msk.cz", None),
    ("Hlavní město Praha", "city", "Hlavní město Praha", "00064581", 1357000, "2003-01-20", "https://www.praha.eu", None),
    ("Praha 12", "city_district", "Hlavní město Praha", "00231151", 55000, "2006-02-01", "https://www.praha12.cz", "hlavni-mesto-praha"),
    ("Praha 14", "city_district", "Hlavní město Praha", "00231312", 47000, "2010-04-01", "https://www.praha14.cz", "hlavni-mesto-praha"),
    ("Praha 15", "city_district", "Hlavní město Praha", "00231355", 38000, "2005-10-01", "https://www.praha15.cz", "hlavni-mesto-praha"),
    ("Liberec", "city", "Liberecký kraj", "00262978", 104800, "2012-01-01", "https://www.liberec.cz", None),
    ("Jablonec nad Nisou", "city", "Liberecký kraj", "00262340", 45800, "2015-05-01", "https://www.mestojablonec.cz", None),
    ("Semily", "city", "Liberecký kraj", "00276006", 8400, "2013-03-01", "https://www.semily.cz", None),
    ("Turnov", "city", "Liberecký kraj", "00276227", 14500, "2016-09-01", "https://www.turnov.cz", None),
    ("Brno", "city", "Jihomoravský kraj", "44992785", 382400, "1994-09-01", "https://www.brno.cz", None),
    ("Hodonín", "city", "Jihomoravský kraj", "00284891", 24300, "1996-01-01", "https://www.hodonin.eu", None),
    ("Letovice", "city", "Jihomoravský kraj", "00280704", 6800, "2008-04-01", "https://www.letovice.net", None),
    ("Chrudim", "city", "Pardubický kraj", "00270211", 23000, "1994-09-01", "https://www.chrudim.eu", None),
    ("Kopřivnice", "city", "Moravskoslezský kraj", "00298077", 21800, "1994-09-01", "https://www.koprivnice.cz", None),
    ("Ostrava", "city", "Moravskoslezský kraj", "00845451", 279000, "2017-01-01", "https://www.ostrava.cz", None),
    ("Opava", "city", "Moravskoslezský kraj", "00300535", 55000, "2019-06-01", "https://www.opava-city.cz", None),
    ("Rýmařov", "city", "Moravskoslezský kraj", "00296317", 7900, "2004-11-01", "https://www.rymarov.cz", None),
    ("Litoměřice", "city", "Ústecký kraj", "00263958", 23600, "2004-01-01", "https://www.litomerice.cz", None),
    ("Jihlava", "city", "Kraj Vysočina", "00286010", 51200, "1994-09-01", "https://www.jihlava.cz", None),
    ("Třebíč", "city", "Kraj Vysočina", "00290629", 34400, "2002-02-01", "https://www.trebic.cz", None),
    ("Žďár nad Sázavou", "city", "Kraj Vysočina", "00295841", 20300, "2001-05-01", "https://www.zdarns.cz", None),
    ("Velké Meziříčí", "city", "Kraj Vysočina", "00295671", 11200, "2005-01-01", "https://www.velkemezirici.cz", None),
    ("Bystřice nad Pernštejnem", "city", "Kraj Vysočina", "00294209", 8000, "2011-10-01", "https://www.bystricenp.cz", None),
    ("Vsetín", "city", "Zlínský kraj", "00304450", 25400, "1996-01-01", "https://www.mestovsetin.cz", None),
    ("Zlín", "city", "Zlínský kraj", "00283924", 74000, "2006-06-01", "https://www.zlin.eu", None),
    ("Uherské Hradiště", "city", "Zlínský kraj", "00291471", 24900, "2007-03-01", "https://www.mesto-uh.cz", None),
    ("Kroměříž", "city", "Zlínský kraj", "00287351", 28000, "2003-09-01", "https://www.mesto-kromeriz.cz", None),
    ("Prostějov", "city", "Olomoucký kraj", "00288659", 43000, "2004-06-01", "https://www.prostejov.eu", None),
    ("Hradec Králové", "city", "Královéhradecký kraj", "00268810", 92800, "2018-03-01", "https://www.hradeckralove.org", None),
    ("Český Krumlov", "city", "Jihočeský kraj", "00245836", 12900, "2009-01-01", "https://www.ckrumlov.cz", None),
    ("Strakonice", "city", "Jihočeský kraj", "00251810", 22600, "1995-04-01", "https://www.strakonice.eu", None),
    ("Kutná Hora", "city", "Středočeský kraj", "00236195", 20700, "2014-02-01", "https://www.kutnahora.cz", None),
    ("Dolní Břežany", "municipality", "Středočeský kraj", "00241172", 4000, "2016-01-01", "https://www.dolnibrezany.cz", None),
    ("Hnanice", "municipality", "Jihomoravský kraj", "00292630", 400, "2020-05-01", None, None),
    ("Křižanov", "municipality", "Kraj Vysočina", "00294594", 1900, "2012-09-01", None, "mikroregion-telcsko"),
    ("Mikroregion Telčsko", "microregion", "Kraj Vysočina", "70941777", 11300, "2010-01-01", "https://www.telcsko.cz", None),
    ("Svazek obcí Region Orlické hory", "microregion", "Královéhradecký kraj", "70157898", 26000, "2008-05-01", None, None),
    ("MAS Hranicko", "mas", "Olomoucký kraj", "27019161", 58000, "2009-07-01", "https://www.mashranicko.cz", None),
    ("MAS Brdy", "mas", "Středočeský kraj", "27036812", 44000, "2013-11-01", "https://www.mas-brdy.cz", None),
    ("MAS Vladař", "mas", "Karlovarský kraj", "26593661", 35000, "2015-03-01", "https://www.mas-vladar.cz", None),
]

CONTACT_FIRST_NAMES = ["Jana", "Petr", "Lucie", "Tomáš", "Markéta", "Jiří", "Eva", "Martin", "Zuzana", "Ondřej"]
CONTACT_SURNAMES = ["Nováková", "Dvořák", "Černá", "Procházka", "Kučerová", "Horák", "Veselá", "Král", "Malá", "Řezníček"]

# name, type, region, IČO, population, contact name, e-mail
PENDING_APPLICATIONS = [
    ("Hrádek nad Nisou", "city", "Liberecký kraj", "00262854", 7700, "Alena Šimková", "koordinator@hradek.cz"),
    ("Svitavy", "city", "Pardubický kraj", "00277444", 16800, "Karel Beneš", "zdrave.mesto@svitavy.cz"),
]

# Upcoming events, placed relative to the day the data is loaded so that they stay upcoming.
# days: first day from today; sessions: (day offset, start, end, title, capacity, audience)
EVENTS = [
    {
        "title": "Jarní Škola Zdravých měst, obcí a regionů", "type": "school", "days": 60,
        "description": "Tradiční akce NSZM zaměřená na téma udržitelného rozvoje, kvality života a zdraví. "
                       "Úvodní seminář je otevřen všem zájemcům; seminář je zdarma, ale registrace je "
                       "z kapacitních důvodů nutná.",
        "venue": {"name": "Krajský úřad Libereckého kraje", "address": "U Jezu 642/2a", "city": "Liberec"},
        "accredited": True, "accreditation": "AK/PV-123/2019 (Ministerstvo vnitra ČR)",
        "sessions": [
            (0, "09:00", "16:00", "Úvodní seminář: strategické řízení a udržitelný rozvoj", 120, "everyone"),
            (1, "09:00", "16:00", "Praktické tréninky koordinátorů: zapojování veřejnosti", 40, "coordinators"),
            (2, "09:00", "13:00", "Nácvik práce s informačním systémem DataPlán", 30, "coordinators"),
        ],
    },
    {
        "title": "Setkání zdravých krajů", "type": "meeting", "days": 30, "online": True,
        "join_url": "https://meet.zdravamesta.cz/setkani-zdravych-kraju",
        "description": "Online setkání politiků a koordinátorů zdravých krajů.",
        "sessions": [(0, "10:00", "13:00", "Setkání zdravých krajů", 200, "everyone")],
    },
    {
        "title": "Národní konference Zdravých měst", "type": "conference", "days": 90,
        "description": "Konference ve spolupráci s Masarykovou univerzitou.",
        "venue": {"name": "Masarykova univerzita, Univerzitní kino Scala", "address": "Moravské nám. 127/3",
                  "city": "Brno"},
        "accredited": True, "accreditation": "AK/PV-123/2019 (Ministerstvo vnitra ČR)",
        "sessions": [
            (0, "10:00", "17:00", "Kvalita života ve městech a regionech", 250, "everyone"),
            (1, "09:00", "13:00", "Workshopy dobré praxe", 120, "everyone"),
        ],
        "videos": [{"title": "Záznam: Národní konference Zdravých měst 2021",
                    "url": "https://www.zdravamesta.cz/tv/narodni-konference-2021.mp4", "duration": 5400,
                    "thumbnail": "https://www.zdravamesta.cz/tv/narodni-konference-2021.jpg"}],
    },
    {
        "title": "Národní Fórum Zdravé školy", "type": "forum", "days": 45,
        "description": "Žáci a studenti prezentují, co je v jejich městě potřeba zlepšit.",
        "venue": {"name": "Kulturní dům Kopřivnice", "city": "Kopřivnice"},
        "sessions": [(0, "09:00", "14:00", "Fórum Zdravé školy", 60, "everyone")],
    },
    {
        "title": "Školení: Zdravotní plán obce", "type": "training", "days": 20,
        "venue": {"name": "Kancelář NSZM ČR", "address": "Palackého 7", "city": "Praha"},
        "accredited": True, "accreditation": "AK/PV-123/2019 (Ministerstvo vnitra ČR)",
        "sessions": [(0, "09:30", "15:30", "Zdravotní plán obce krok za krokem", 25, "coordinators")],
    },
]

# Good practice: (member slug, title, themes, year, summary, video file or None)
PRACTICES = [
    ("liberecky-kraj", "Lipo.ink – Liberecký podnikatelský inkubátor", [6, 7], 2019,
     "Inkubátor pomáhá začínajícím podnikatelům v kraji prostory, mentoringem a vzděláváním.", None),
    ("liberecky-kraj", "Program Prevence a podpora zdraví v Libereckém kraji", [5], 2019,
     "Krajský grantový program podporuje preventivní aktivity obcí, škol a neziskových organizací.",
     "prevence-liberecky-kraj"),
    ("koprivnice", "Zdravé stárnutí v Kopřivnici", [5, 9], 2024,
     "Město propojilo sociální služby, dobrovolníky a seniorské kluby do jedné sítě podpory.",
     "zdrave-starnuti-koprivnice"),
    ("praha-14", "Participativní rozpočet Praha 14", [1], 2023,
     "Obyvatelé sami navrhují a v hlasování vybírají projekty, na které městská část vyčlení peníze.", None),
    ("chrudim", "Sdílená kola a bezpečné cyklotrasy v Chrudimi", [4, 2], 2024,
     "Systém sdílených kol navázaný na nové cyklotrasy snížil počet krátkých cest autem.", "kola-chrudim"),
    ("litomerice", "Komunitní kompostování v Litoměřicích", [2, 3], 2023,
     "Komunitní kompostéry na sídlištích snížily množství bioodpadu ve směsném odpadu.", None),
    ("jihlava", "Fórum Zdravého města Jihlava", [1, 7], 2025,
     "Každoroční veřejné fórum, na kterém obyvatelé určují deset největších problémů města.",
     "forum-jihlava"),
    ("mas-hranicko", "Místní potraviny do školních jídelen", [3, 6, 7], 2022,
     "MAS propojila místní zemědělce se školními jídelnami v regionu.", None),
    ("vsetin", "Festival valašských tradic", [8], 2024,
     "Festival představuje místní řemesla, folklor a gastronomii a spojuje generace.", None),
    ("trebic", "Fairtradové město Třebíč", [10, 3], 2021,
     "Město podporuje spravedlivý obchod a odpovědné zadávání veřejných zakázek.", None),
    ("brno", "Housing First: sociální bydlení v Brně", [9], 2022,
     "Rodiny bez domova dostávají nejprve byt a teprve potom navazující podporu.", None),
    ("kraj-vysocina", "Zdravý životní styl na školách Kraje Vysočina", [5, 7], 2025,
     "Kraj podporuje školy v pohybových aktivitách, zdravém stravování a prevenci.", "skoly-vysocina"),
]

# (title, days from today the voting opens and closes, nominees by index in PRACTICES, votes per nominee)
COMPETITIONS = [
    ("NEJpraxe 2025", -400, -360, [2, 4, 6], [143, 97, 61]),
    ("NEJpraxe 2026", -7, 21, [0, 3, 5, 11], None),
]
